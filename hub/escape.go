package hub

import "strings"

// EscapeAll is Python's urllib.parse.quote(s, safe=""): every byte except
// ASCII letters, digits and "_.-~" becomes %XX with upper-case hex. Neither
// url.QueryEscape (space → "+") nor url.PathEscape ("/" and ":" kept) do
// exactly this. SAS tokens, REST path segments and MQTT property bags all use
// it.
func EscapeAll(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3 / 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '.' || c == '-' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
