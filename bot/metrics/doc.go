// Package metrics exposes Lifeline's Prometheus metrics: inbound and
// outbound counts by channel and result, queue depths, cases by state,
// turn latency, rate-limiter waits and Redis errors. No label ever carries
// a person, a number or a text.
//
// Imports: store (queue depths and case counts come through its
// operations) and the Prometheus client. Nothing else of Lifeline: the
// runner and the channels are counted through hooks cmd/lifeline wires.
package metrics
