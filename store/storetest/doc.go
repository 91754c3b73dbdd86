// Package storetest gives tests real Redis servers: the shared one the
// machine runs (REDIS_TEST_URL, default redis://127.0.0.1:6379), a private
// redis-server a test may kill and restart, or the embedded miniredis.
//
// Imports: store only. Only tests (and the load test) import it.
package storetest
