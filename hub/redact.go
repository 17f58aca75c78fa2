package hub

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
)

// secretPatterns find the secrets IoT Hub traffic carries in clear text:
// a SAS token's signature (Authorization headers, MQTT CONNECT passwords,
// connection strings with SharedAccessSignature), a connection string's
// SharedAccessKey, and the symmetric keys of device and module bodies.
// Each keeps what precedes the secret (group 1) so a redacted text still
// says where a secret was.
//
// A backslash escapes the next character, as in a JSON string: a secret
// ends before an escaped quote and swallows any other escape whole, so a
// redacted JSON document (an HTTP body in a report) is still JSON.
//
// Each pattern comes with the words, in lower case, one of which a text
// must hold for it to match: a case-insensitive pattern has no literal
// prefix for the regexp package to look for, so a text without them (most
// of a report's megabytes) is passed over without running it.
var secretPatterns = []struct {
	re    *regexp.Regexp
	words []string
}{
	{regexp.MustCompile(`((?i:sig)=)(?:[^&\s;"',\\]|\\[^"])+`), []string{"sig="}},
	{regexp.MustCompile(`((?i:SharedAccessKey)=)(?:[^;\s"',\\]|\\[^"])+`), []string{"sharedaccesskey="}},
	{regexp.MustCompile(`("(?i:primaryKey|secondaryKey)"\s*:\s*")(?:[^"\\]|\\.)*`), []string{"primarykey", "secondarykey"}},
}

// Redacted replaces each secret.
const Redacted = "***"

// Redact masks every secret in s (SAS signatures, shared access keys,
// symmetric keys in JSON bodies) with Redacted, leaving the rest as it
// was. Reports and logs pass everything they show through it: evidence
// that leaks a key would make a test report a credential.
func Redact(s string) string {
	lower := foldCase(s)
	for _, p := range secretPatterns {
		if slices.ContainsFunc(p.words, func(w string) bool { return strings.Contains(lower, w) }) {
			s = p.re.ReplaceAllString(s, "${1}"+Redacted)
		}
	}
	return s
}

// foldCase lowers s as the patterns' (?i) matches it: Unicode simple case
// folding, under which the Kelvin sign is a k (as strings.ToLower has it)
// and the long s (ſ) an s (which strings.ToLower leaves).
func foldCase(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "ſ", "s")
}

// RedactHandler wraps h so that nothing it writes holds a secret: the
// message, strings, byte slices, errors and fmt.Stringers pass through
// Redact, inside groups too. A value of any other kind (a struct, a map)
// is written as its type name only, because it can hold a secret in a form
// Redact cannot see: mochi-mqtt logs whole packets, and a text handler
// prints a CONNECT's password ([]byte) as a list of numbers.
//
// Give it the logger of code whose log lines you do not control (a broker
// library) or cannot all review; records below h's level cost nothing.
func RedactHandler(h slog.Handler) slog.Handler { return redactHandler{next: h} }

type redactHandler struct{ next slog.Handler }

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.next.Handle(ctx, out)
}

func (r redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactHandler{next: r.next.WithAttrs(red)}
}

func (r redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{next: r.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve() // a LogValuer (ConnectionString) masks itself first
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		red := make([]any, len(group))
		for i, g := range group {
			red[i] = redactAttr(g)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		return slog.Attr{Key: a.Key, Value: redactAny(v.Any())}
	}
	return slog.Attr{Key: a.Key, Value: v} // numbers, booleans, times, durations
}

func redactAny(x any) slog.Value {
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case error:
		return slog.StringValue(Redact(x.Error()))
	case fmt.Stringer:
		return slog.StringValue(Redact(x.String()))
	case []byte:
		return slog.StringValue(Redact(string(x)))
	case []string:
		red := make([]string, len(x))
		for i, s := range x {
			red[i] = Redact(s)
		}
		return slog.AnyValue(red)
	}
	return slog.StringValue(fmt.Sprintf("%T (not logged: it may hold a secret)", x))
}
