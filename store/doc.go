// Package store keeps Lifeline's state in Redis: sessions, profiles,
// inboxes, the durable work and outbound queues, idempotency records and
// sent-markers, and what the modules keep (cases, check-ins, broadcasts,
// jobs, series). Every key of one person carries the hash tag {u:<id>}, so
// a person's keys share one Redis Cluster slot and one Lua script can touch
// them all.
//
// It is the only package that imports go-redis; everyone else calls its
// typed operations. Sessions cross it as bytes (flows.WriteSession makes
// them); it seals them at rest with the sealer it is built with
// (WithSealer).
//
// Imports: nothing from Lifeline.
package store
