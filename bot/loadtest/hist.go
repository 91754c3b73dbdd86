package loadtest

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records durations in log-linear buckets (128 per power of two,
// so a quantile is within 0.8%), in fixed memory and without locks.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const (
	histSub     = 128 // buckets per power of two above 2*histSub ns
	histBuckets = 2*histSub + (64-8)*histSub
)

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 8 // v>>e is in [128, 256)
	return 2*histSub + (e-1)*histSub + int(uint64(v)>>e) - histSub
}

// lowOf is the smallest value of bucket i; highOf the next bucket's.
func lowOf(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	e := (i-2*histSub)/histSub + 1
	m := (i-2*histSub)%histSub + histSub
	return int64(m) << e
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1), as the middle of its bucket.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo := lowOf(i)
			hi := lo + 1
			if i+1 < histBuckets {
				hi = lowOf(i + 1)
			}
			return min(time.Duration(lo+(hi-lo)/2), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}
