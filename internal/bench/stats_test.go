package bench

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	r := Summarize(Result{}, lat)
	require.Equal(t, 50*time.Millisecond, r.P50)
	require.Equal(t, 95*time.Millisecond, r.P95)
	require.Equal(t, 99*time.Millisecond, r.P99)
	require.Equal(t, 100*time.Millisecond, r.Max)
	require.Zero(t, Percentile(nil, 50))
}

func TestChartIsWellFormedSVG(t *testing.T) {
	t.Parallel()
	results := []Result{
		{System: "ceiling", Mode: "open", Offered: 10, P50: 20 * time.Millisecond, P95: 30 * time.Millisecond, P99: 40 * time.Millisecond},
		{System: "ceiling", Mode: "open", Offered: 20, P50: 25 * time.Millisecond, P95: 35 * time.Millisecond, P99: 60 * time.Millisecond},
		{System: "wabot", Mode: "open", Offered: 10, P50: 30 * time.Millisecond, P95: 50 * time.Millisecond, P99: 70 * time.Millisecond},
		{System: "wabot", Mode: "saturation", Messages: 10},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteChart(&buf, "a <title>", results))
	dec := xml.NewDecoder(&buf)
	for {
		_, err := dec.Token()
		if err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
	}
	var table strings.Builder
	require.NoError(t, WriteTable(&table, results))
	require.Equal(t, 6, strings.Count(table.String(), "\n"))
}
