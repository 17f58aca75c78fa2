package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/hubspec/hubspec/internal/loadgen"
)

// Figures is what one run measured.
type Figures struct {
	// SuiteSeconds is the built-in feature suite's wall time on the
	// embedded emulator; 0 when the run did not time it.
	SuiteSeconds float64 `json:"suiteSeconds,omitempty"`
	// DesiredPatch is from the service's PATCH of a module twin's desired
	// properties (REST over HTTPS) to the module client receiving the
	// patch over MQTT/TLS (internal/loadgen), on the emulator process.
	DesiredPatch loadgen.Latency `json:"desiredPatchMs"`
	// RegistryCreates is how fast the emulator took the load run's device
	// and module creates.
	RegistryCreates loadgen.Rate `json:"registryCreates"`
	// Emulator and Mosquitto are what both brokers were measured on.
	Emulator  Broker `json:"emulator"`
	Mosquitto Broker `json:"mosquitto"`
}

// Broker is what the bench measures on the emulator and on Mosquitto alike.
type Broker struct {
	// MQTTPath is the QoS 1 publish over TLS until the message it causes
	// arrives (see RoundTrip), in milliseconds.
	MQTTPath loadgen.Latency `json:"mqttPathMs"`
	// Held is the idle connections' memory and connect rate.
	Held Held `json:"held"`
}

// row is one line of the table: how to read its figure from a run on
// each side (mosquitto nil: Mosquitto has no such thing).
type row struct {
	name      string
	digits    int // decimals printed
	emulator  func(Figures) float64
	mosquitto func(Figures) float64
}

// rows are the table's lines. The desired patch has no Mosquitto
// counterpart of its own: it stands beside Mosquitto's publish→receive,
// the floor a broker sets for getting a message to a client.
var rows = []row{
	{"suite wall time (s)", 1, func(f Figures) float64 { return f.SuiteSeconds }, nil},
	{"desired patch p50 (ms)", 2, func(f Figures) float64 { return f.DesiredPatch.P50 }, func(f Figures) float64 { return f.Mosquitto.MQTTPath.P50 }},
	{"desired patch p99 (ms)", 2, func(f Figures) float64 { return f.DesiredPatch.P99 }, func(f Figures) float64 { return f.Mosquitto.MQTTPath.P99 }},
	{"MQTT path p50 (ms)", 2, func(f Figures) float64 { return f.Emulator.MQTTPath.P50 }, func(f Figures) float64 { return f.Mosquitto.MQTTPath.P50 }},
	{"MQTT path p99 (ms)", 2, func(f Figures) float64 { return f.Emulator.MQTTPath.P99 }, func(f Figures) float64 { return f.Mosquitto.MQTTPath.P99 }},
	{"memory per connection (KiB RSS)", 1, func(f Figures) float64 { return f.Emulator.Held.RSSPerConnection / 1024 }, func(f Figures) float64 { return f.Mosquitto.Held.RSSPerConnection / 1024 }},
	{"connections held", 0, func(f Figures) float64 { return float64(f.Emulator.Held.Connections) }, func(f Figures) float64 { return float64(f.Mosquitto.Held.Connections) }},
	{"connects/s", 0, func(f Figures) float64 { return f.Emulator.Held.ConnectsPerSecond }, func(f Figures) float64 { return f.Mosquitto.Held.ConnectsPerSecond }},
	{"registry creates/s", 0, func(f Figures) float64 { return f.RegistryCreates.PerSecond }, nil},
}

// Line is one row of the table: the median of the runs on each side and
// their ratio, emulator over Mosquitto (0 where there is none).
type Line struct {
	Name      string  `json:"name"`
	Emulator  float64 `json:"emulator"`
	Mosquitto float64 `json:"mosquitto,omitempty"`
	Ratio     float64 `json:"ratio,omitempty"`
	digits    int
}

// Table is the median of every row over runs: each cell's own median, so a
// row's emulator and Mosquitto figures may come from different runs (which
// the ratio then compares: medians, not one run's pair).
func Table(runs []Figures) []Line {
	lines := make([]Line, 0, len(rows))
	for _, r := range rows {
		l := Line{Name: r.name, digits: r.digits, Emulator: median(runs, r.emulator)}
		if r.mosquitto != nil {
			l.Mosquitto = median(runs, r.mosquitto)
			l.Ratio = ratio(l.Emulator, l.Mosquitto)
		}
		lines = append(lines, l)
	}
	return lines
}

// median is the middle of the runs' values (the mean of the two middle
// ones for an even count); 0 for no runs.
func median(runs []Figures, of func(Figures) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, f := range runs {
		v[i] = of(f)
	}
	slices.Sort(v)
	mid := len(v) / 2
	if len(v)%2 == 0 {
		return (v[mid-1] + v[mid]) / 2
	}
	return v[mid]
}

// ratio is a over b; 0 when b is 0, which no ratio can be made of.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteTable prints the lines, figures right-aligned; a dash stands for a
// figure there is none of (0: not measured, or no such thing).
func WriteTable(w io.Writer, lines []Line) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-32s\temulator\tmosquitto\tratio\t\n", "")
	for _, l := range lines {
		ratio := "-"
		if l.Ratio != 0 {
			ratio = fmt.Sprintf("%.2fx", l.Ratio)
		}
		fmt.Fprintf(tw, "%-32s\t%s\t%s\t%s\t\n", l.Name, cell(l.Emulator, l.digits), cell(l.Mosquitto, l.digits), ratio)
	}
	return tw.Flush()
}

// cell prints v with digits decimals, or a dash for 0; a figure too small
// for the decimals keeps two significant digits, so a latency of 0.004 ms
// does not print as 0.00.
func cell(v float64, digits int) string {
	switch {
	case v == 0:
		return "-"
	case math.Abs(v) < math.Pow(10, -float64(digits)):
		return fmt.Sprintf("%.2g", v)
	}
	return fmt.Sprintf("%.*f", digits, v)
}
