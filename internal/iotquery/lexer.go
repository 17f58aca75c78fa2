package iotquery

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The lexer turns query text into tokens. Words (keywords and names) are
// one kind: whether SELECT is a keyword or a property name is the parser's
// call, since after a '.' any word names a property (tags.from is fine).

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokWord
	tokNumber
	tokString
	tokPunct // operators and punctuation: = != <> < > <= >= + - * / % ( ) [ ] , .
)

type token struct {
	kind tokenKind
	text string  // the word, the operator, or the literal as written
	num  float64 // tokNumber's value
	str  string  // tokString's value, escapes resolved
	pos  int     // byte offset in the query
}

// lex splits the whole query up front: queries are at most MaxLength
// characters, so the token slice is small.
func lex(src string) ([]token, error) {
	if !utf8.ValidString(src) {
		return nil, errorAt(src, strings.IndexFunc(src, func(r rune) bool { return r == utf8.RuneError }), "the query is not valid UTF-8")
	}
	var toks []token
	for i := 0; ; {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tokEOF, pos: i}), nil
		}
		t, err := lexOne(src, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i = t.pos + len(t.text)
	}
}

func lexOne(src string, i int) (token, error) {
	c := src[i]
	switch {
	case isWordStart(c):
		j := i + 1
		for j < len(src) && isWordPart(src[j]) {
			j++
		}
		return token{kind: tokWord, text: src[i:j], pos: i}, nil
	case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
		return lexNumber(src, i)
	case c == '\'' || c == '"':
		return lexString(src, i)
	case strings.HasPrefix(src[i:], "[["):
		return lexBracketed(src, i)
	}
	for _, op := range []string{"!=", "<>", "<=", ">="} {
		if strings.HasPrefix(src[i:], op) {
			return token{kind: tokPunct, text: op, pos: i}, nil
		}
	}
	if strings.IndexByte("=<>+-*/%()[],.", c) >= 0 {
		return token{kind: tokPunct, text: src[i : i+1], pos: i}, nil
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return token{}, errorAt(src, i, "Unexpected character %q", r)
}

// lexBracketed reads a name in double brackets, [[fw-2:a]]: the form in
// which a configuration's metric queries name it (configurations.[[id]],
// Microsoft's automatic device management docs), since configuration ids
// may hold characters a plain name cannot. It is a word whose str is the
// name inside.
func lexBracketed(src string, i int) (token, error) {
	end := strings.Index(src[i+2:], "]]")
	if end <= 0 {
		return token{}, errorAt(src, i, "A name in [[ ]] is empty or not closed")
	}
	return token{kind: tokWord, text: src[i : i+2+end+2], str: src[i+2 : i+2+end], pos: i}, nil
}

// lexNumber reads a decimal literal (12, 1.5, .5, 1e-3) or a hexadecimal
// one (0x1F), the two number forms of the IoT Hub query language.
func lexNumber(src string, i int) (token, error) {
	j := i
	if strings.HasPrefix(src[i:], "0x") || strings.HasPrefix(src[i:], "0X") {
		j += 2
		for j < len(src) && isHex(src[j]) {
			j++
		}
		n, err := strconv.ParseUint(src[i+2:j], 16, 64)
		if err != nil || j < len(src) && isWordPart(src[j]) {
			return token{}, errorAt(src, i, "Invalid hexadecimal number %q", src[i:max(j, i+2)])
		}
		return token{kind: tokNumber, text: src[i:j], num: float64(n), pos: i}, nil
	}
	digits := func() {
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	digits()
	if j < len(src) && src[j] == '.' {
		j++
		digits()
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		j++
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		digits()
	}
	n, err := strconv.ParseFloat(src[i:j], 64)
	if err != nil || j < len(src) && isWordPart(src[j]) {
		end := j
		for end < len(src) && isWordPart(src[end]) {
			end++
		}
		return token{}, errorAt(src, i, "Invalid number %q", src[i:end])
	}
	return token{kind: tokNumber, text: src[i:j], num: n, pos: i}, nil
}

// lexString reads a string between single or double quotes. The escapes
// are the documented ones, \' \" \\ and \uXXXX.
func lexString(src string, i int) (token, error) {
	quote := src[i]
	var b strings.Builder
	for j := i + 1; j < len(src); {
		c := src[j]
		switch {
		case c == quote:
			return token{kind: tokString, text: src[i : j+1], str: b.String(), pos: i}, nil
		case c != '\\':
			b.WriteByte(c)
			j++
		case j+1 < len(src) && (src[j+1] == '\'' || src[j+1] == '"' || src[j+1] == '\\'):
			b.WriteByte(src[j+1])
			j += 2
		case j+1 < len(src) && src[j+1] == 'u':
			if j+6 > len(src) {
				return token{}, errorAt(src, j, "Invalid escape sequence in a string")
			}
			n, err := strconv.ParseUint(src[j+2:j+6], 16, 16)
			if err != nil {
				return token{}, errorAt(src, j, "Invalid escape sequence %q in a string", src[j:j+6])
			}
			b.WriteRune(rune(n))
			j += 6
		default:
			return token{}, errorAt(src, j, "Invalid escape sequence in a string")
		}
	}
	return token{}, errorAt(src, i, "Unterminated string")
}

func isSpace(c byte) bool     { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isHex(c byte) bool       { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }
func isWordStart(c byte) bool { return c == '_' || c == '$' || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isWordPart(c byte) bool  { return isWordStart(c) || isDigit(c) }

// SyntaxError is a query the language does not accept: a syntax error or a
// construct the emulator does not support. Line and Column (both from 1,
// the column counted in characters) point at where it was found.
type SyntaxError struct {
	Line, Column int
	Msg          string
}

// Error reads "Line 1:29 <what>", the form of the hub's own parse errors
// ("SQL query parse failed due to following errors: Line 1:29 Unexpected
// character at input 'SELECT'", quoted in Azure/azure-iot-sdk-csharp#40).
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("Line %d:%d %s", e.Line, e.Column, e.Msg)
}

// errorAt is a SyntaxError at byte offset off of src.
func errorAt(src string, off int, format string, args ...any) *SyntaxError {
	off = max(0, min(off, len(src)))
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &SyntaxError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// name is a word's name: the text, or for [[name]] what is inside.
func (t token) name() string {
	if strings.HasPrefix(t.text, "[[") {
		return t.str
	}
	return t.text
}
