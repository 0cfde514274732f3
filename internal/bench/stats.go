package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Result is one measured run.
type Result struct {
	System   string        // "wabot" or "ceiling"
	Mode     string        // "saturation" (all at once) or "open" (fixed arrival rate)
	Messages int           // messages sent
	Users    int           // distinct chats
	Offered  float64       // arrivals per second in open mode; 0 in saturation mode
	Replied  int           // messages with at least one reply
	Lost     int           // messages without a reply at the deadline
	Dups     int           // replies beyond the first, over all messages
	Elapsed  time.Duration // first hand-off to last reply
	LLM      time.Duration // the fake LLM's latency per call
	P50      time.Duration
	P95      time.Duration
	P99      time.Duration
	Max      time.Duration
}

// Throughput is replies per second over the run.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Replied) / r.Elapsed.Seconds()
}

// Summarize fills the latency figures of r from per-message latencies.
func Summarize(r Result, lat []time.Duration) Result {
	s := slices.Clone(lat)
	slices.Sort(s)
	r.P50, r.P95, r.P99 = Percentile(s, 50), Percentile(s, 95), Percentile(s, 99)
	if len(s) > 0 {
		r.Max = s[len(s)-1]
	}
	return r
}

// Percentile returns the p-th percentile (nearest rank) of sorted values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// ms formats a duration in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// WriteTable writes results as a Markdown table. Overhead is end-to-end minus
// the fake LLM's latency.
func WriteTable(w io.Writer, results []Result) error {
	var b strings.Builder
	b.WriteString("| system | mode | messages | users | offered/s | msg/s | p50 ms | p95 ms | p99 ms | max ms | overhead p50 ms | overhead p99 ms | lost | dup |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		offered := "max"
		if r.Mode == "open" {
			offered = fmt.Sprintf("%.1f", r.Offered)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %.1f | %s | %s | %s | %s | %s | %s | %d | %d |\n",
			r.System, r.Mode, r.Messages, r.Users, offered, r.Throughput(), ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max),
			ms(r.P50-r.LLM), ms(r.P99-r.LLM), r.Lost, r.Dups)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteChart writes an SVG line chart of p50/p95/p99 latency against offered
// load for each system's open-mode results. It uses no library: a chart this
// small is a few dozen SVG elements.
func WriteChart(w io.Writer, title string, results []Result) error {
	const (
		width, height          = 760, 420
		left, right, top, foot = 70, 170, 40, 50
	)
	var open []Result
	for _, r := range results {
		if r.Mode == "open" {
			open = append(open, r)
		}
	}
	maxX, maxY, minY := 1.0, 1.0, math.Inf(1)
	for _, r := range open {
		maxX = max(maxX, r.Offered)
		maxY = max(maxY, float64(r.P99)/float64(time.Millisecond))
		minY = min(minY, float64(r.P50)/float64(time.Millisecond))
	}
	// Latency on a log scale: at low load it is tens of milliseconds, past
	// saturation tens of seconds, and both matter.
	maxX = niceCeil(maxX)
	hi := math.Pow(10, math.Ceil(math.Log10(maxY)))
	lo := 1.0
	if !math.IsInf(minY, 1) && minY > 1 {
		lo = math.Pow(10, math.Floor(math.Log10(minY)))
	}
	if hi <= lo {
		hi = lo * 10
	}
	plotW, plotH := float64(width-left-right), float64(height-top-foot)
	x := func(v float64) float64 { return float64(left) + v/maxX*plotW }
	y := func(v float64) float64 {
		v = max(v, lo)
		return float64(top) + plotH - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*plotH
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, escape(title))
	for i := 0; i <= 5; i++ {
		vx := maxX * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x(vx), top, x(vx), y(lo))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(vx), y(lo)+16, trim(vx))
	}
	for decade := lo; decade <= hi*1.001; decade *= 10 {
		for _, m := range []float64{1, 2, 5} {
			vy := decade * m
			if vy > hi*1.001 {
				break
			}
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", left, y(vy), x(maxX), y(vy))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(vy)+4, trim(vy))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, y(lo), x(maxX), y(lo))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, top, left, y(lo))
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">offered load (messages/s)</text>`+"\n", x(maxX/2), height-10)
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">end-to-end latency (ms, log scale)</text>`+"\n", float64(top)+plotH/2)

	colors := map[string]string{"wabot": "#d62728", "ceiling": "#1f77b4"}
	dashes := []string{"", "6 3", "2 3"}
	legend := 0
	for _, system := range []string{"wabot", "ceiling"} {
		var pts []Result
		for _, r := range open {
			if r.System == system {
				pts = append(pts, r)
			}
		}
		if len(pts) == 0 {
			continue
		}
		slices.SortFunc(pts, func(a, b Result) int { return int(a.Offered*1000) - int(b.Offered*1000) })
		for i, pct := range []string{"p50", "p95", "p99"} {
			var path []string
			for _, r := range pts {
				v := map[string]time.Duration{"p50": r.P50, "p95": r.P95, "p99": r.P99}[pct]
				px, py := x(r.Offered), y(float64(v)/float64(time.Millisecond))
				path = append(path, fmt.Sprintf("%.1f,%.1f", px, py))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px, py, colors[system])
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n",
				strings.Join(path, " "), colors[system], dashes[i])
			ly := top + 10 + legend*18
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n",
				width-right+15, ly, width-right+45, ly, colors[system], dashes[i])
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s %s</text>`+"\n", width-right+50, ly+4, system, pct)
			legend++
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
