package emulator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hubspec/hubspec/internal/amqp"
)

// selectorFilter is the filter an Event Hubs receiver sends in its source:
// apache.org:selector-filter:string, a described string.
const selectorFilter amqp.Symbol = "apache.org:selector-filter:string"

type posField int

const (
	posOffset posField = iota
	posSequence
	posEnqueued
)

// ehPosition is where a receiver starts: events whose field is above value
// (or at or above it when inclusive).
type ehPosition struct {
	field     posField
	value     int64
	inclusive bool
}

func (p ehPosition) admits(e ehEvent) bool {
	var v int64
	switch p.field {
	case posOffset:
		v = e.offset
	case posSequence:
		v = e.seq
	default:
		v = e.enqueued.UnixMilli()
	}
	if p.inclusive {
		return v >= p.value
	}
	return v > p.value
}

// parseSelector reads the selector azeventhubs builds (partition_client.go
// getStartExpression): "amqp.annotation.x-opt-{offset|sequence-number|
// enqueued-time} {>|>=} '{value}'", where the offset may be '-1' (the
// start) or '@latest' (after the last event: latest is then called).
// Anything else is an error the link is refused with.
func parseSelector(expr string, latest func() ehPosition) (ehPosition, error) {
	name, rest, ok := strings.Cut(strings.TrimSpace(expr), " ")
	if !ok {
		return ehPosition{}, fmt.Errorf("selector %q: no operator", expr)
	}
	op, val, ok := strings.Cut(strings.TrimSpace(rest), " ")
	val = strings.TrimSpace(val)
	if !ok || len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
		return ehPosition{}, fmt.Errorf("selector %q: value must be quoted", expr)
	}
	val = val[1 : len(val)-1]
	var pos ehPosition
	switch op {
	case ">":
	case ">=":
		pos.inclusive = true
	default:
		return ehPosition{}, fmt.Errorf("selector %q: operator %q not supported", expr, op)
	}
	switch strings.ToLower(name) {
	case "amqp.annotation.x-opt-offset":
		pos.field = posOffset
		if val == "@latest" {
			return latest(), nil
		}
	case "amqp.annotation.x-opt-sequence-number":
		pos.field = posSequence
	case "amqp.annotation.x-opt-enqueued-time":
		pos.field = posEnqueued
	default:
		return ehPosition{}, fmt.Errorf("selector %q: %q not supported", expr, name)
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return ehPosition{}, fmt.Errorf("selector %q: %q is not an integer", expr, val)
	}
	pos.value = n
	return pos, nil
}

// startPosition reads a receiver's filter set: no selector means the
// start of the partition.
func startPosition(filter map[amqp.Symbol]any, latest func() ehPosition) (ehPosition, error) {
	start := ehPosition{field: posOffset, value: -1}
	f, ok := filter[selectorFilter]
	if !ok {
		return start, nil
	}
	if d, ok := f.(amqp.Described); ok {
		f = d.Value
	}
	expr, ok := f.(string)
	if !ok {
		return ehPosition{}, fmt.Errorf("selector filter is a %T, not a string", f)
	}
	return parseSelector(expr, latest)
}
