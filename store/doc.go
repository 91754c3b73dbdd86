// Package store keeps Lifeline's state in Redis: sessions, profiles,
// inboxes, the durable work and outbound queues, idempotency records and
// sent-markers, and what the modules keep (cases, check-ins, broadcasts,
// jobs, series).
//
// It runs the same on one Redis and on Redis Cluster. People are spread
// over Shards shards; every key of one person carries their shard's hash
// tag ("<ns>:{s07}:u:<id>:<suffix>"), as do the shard's queues (work,
// outbound a channel, cases, effects), people index and check-in set, so
// one Lua script can touch a person's keys and queue their work in one
// slot. Readers read every shard (Queue). The cases, the staff accounts
// and each broadcast have hash tags of their own ({case}, {acct},
// {bc:<id>}); global indexes are written apart. Migrate moves what the
// earlier, unsharded layout kept.
//
// It is the only package that imports go-redis; everyone else calls its
// typed operations. Sessions cross it as bytes (flows.WriteSession makes
// them); it seals them at rest with the sealer it is built with
// (WithSealer).
//
// Imports: nothing from Lifeline.
package store
