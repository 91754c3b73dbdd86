package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lifeline-org/lifeline/store"
)

// Metrics holds the collectors.
type Metrics struct {
	reg      *prometheus.Registry
	inbound  *prometheus.CounterVec
	outbound *prometheus.CounterVec
	turn     *prometheus.HistogramVec
	warm     *prometheus.CounterVec
	wait     *prometheus.HistogramVec
	redisErr prometheus.Counter
}

// New registers every collector. Queue depths and cases are read from Redis
// when Prometheus scrapes.
func New(st *store.Store, channels []string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lifeline_inbound_total", Help: "Inbound messages by channel and result (accepted, duplicate, error).",
		}, []string{"channel", "result"}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lifeline_outbound_total", Help: "Outbound messages by channel and result (sent, retry, refused, unreachable).",
		}, []string{"channel", "result"}),
		turn: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lifeline_turn_seconds", Help: "Time to handle one person's turn (lock, load, step, save, enqueue).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}, []string{"channel"}),
		warm: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lifeline_warm_turns_total", Help: "Messages answered from the state this process kept (answered), or found changed meanwhile and accepted the usual way in the same round trip (stale).",
		}, []string{"channel", "result"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lifeline_limiter_wait_seconds", Help: "Time a send waited for the channel's rate limiter.",
			Buckets: []float64{0, .01, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}, []string{"channel"}),
		redisErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_redis_errors_total", Help: "Redis commands that failed (not counting empty replies).",
		}),
	}
	queues := map[string][]string{"work": st.WorkStreams(), "cases": st.CaseStreams()}
	for _, ch := range channels {
		queues["out_"+ch] = st.OutStreams(ch)
	}
	for name, streams := range queues {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lifeline_queue_depth", Help: "Entries waiting in a durable queue.", ConstLabels: prometheus.Labels{"queue": name},
		}, func() float64 {
			return float64(scrape(func(ctx context.Context) (int64, error) { return st.QueueDepth(ctx, streams...) }))
		}))
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lifeline_cases", Help: "Cases not yet closed (open or claimed).", ConstLabels: prometheus.Labels{"state": "active"},
	}, func() float64 {
		return float64(scrape(st.CountOpenCases))
	}))
	m.reg.MustRegister(m.inbound, m.outbound, m.turn, m.warm, m.wait, m.redisErr,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st.OnError(m.redisErr.Inc)
	return m
}

func scrape(f func(context.Context) (int64, error)) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := f(ctx)
	if err != nil {
		return -1
	}
	return n
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Inbound counts an inbound message.
func (m *Metrics) Inbound(channel, result string) { m.inbound.WithLabelValues(channel, result).Inc() }

// Outbound counts an outbound message.
func (m *Metrics) Outbound(channel, result string) { m.outbound.WithLabelValues(channel, result).Inc() }

// Turn observes a turn's duration.
func (m *Metrics) Turn(channel string, d time.Duration) {
	m.turn.WithLabelValues(channel).Observe(d.Seconds())
}

// Warm counts a warm turn's result (answered or stale).
func (m *Metrics) Warm(channel, result string) { m.warm.WithLabelValues(channel, result).Inc() }

// Wait observes a rate-limiter wait.
func (m *Metrics) Wait(channel string, d time.Duration) {
	m.wait.WithLabelValues(channel).Observe(d.Seconds())
}
