package vocab

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/cucumber/godog"
)

// Before godog runs a step, its text is checked against the vocabulary.
// A text that matches no expression fails, naming the closest steps with
// an example of each: godog v0.15.1 would call it undefined, and an
// undefined step has no place for a message in godog's output (nor does a
// pending one), so only a failure can say "did you mean". A text that
// matches two expressions fails naming both: godog reports ErrAmbiguous
// only under Strict, and otherwise runs whichever step was registered
// first. Both fail with or without Strict.

// Check says what is wrong with a step's text, or nil: it must read as
// exactly one step of the catalogue.
func (c *Catalogue) Check(text string) error {
	var matched []string
	for _, d := range c.Defs {
		if d.Expr.MatchString(text) {
			matched = append(matched, d.Template)
		}
	}
	switch len(matched) {
	case 0:
		return c.undefinedStep(text)
	case 1:
		return nil
	}
	return fmt.Errorf("ambiguous step (it reads as %d steps): %s\n  %s\nreword it, or make the steps' expressions tell it apart",
		len(matched), text, strings.Join(matched, "\n  "))
}

// undefinedStep is the error for a text no step matches: the closest
// steps, each with an example from the features.
func (c *Catalogue) undefinedStep(text string) error {
	if straight := straightQuotes.Replace(text); straight != text {
		msg := fmt.Sprintf("no step reads like this: %s\nit has curly quotes (“ ” or ‘ ’), as a word processor or chat app types them: write straight quotes (\") instead", text)
		if c.Check(straight) == nil {
			msg += ", and it reads as: " + straight
		}
		return errors.New(msg)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no step reads like this: %s", text)
	near := c.Closest(text, 3)
	if len(near) > 0 {
		b.WriteString("\nthe closest steps:")
	}
	ex, _ := c.Examples() // without examples, the suggestions still help
	for _, d := range near {
		fmt.Fprintf(&b, "\n  %s", d.Template)
		if e, ok := ex[d.Expr.String()]; ok {
			fmt.Fprintf(&b, "\n    e.g. %s", e.Text)
		}
	}
	b.WriteString("\n`hubspec steps` lists every step.")
	return errors.New(b.String())
}

// straightQuotes turns the quotes a word processor types into the one a
// step's names go between.
var straightQuotes = strings.NewReplacer("“", `"`, "”", `"`, "„", `"`, "‘", `"`, "’", `"`)

// CheckStep says what is wrong with a step before it runs: its text (see
// Check), or the doc string or table it has, or lacks.
func (c *Catalogue) CheckStep(st *godog.Step) error {
	if err := c.Check(st.Text); err != nil {
		return err
	}
	return c.match(st.Text).argumentProblem(st.Argument)
}

// Closest ranks steps by how much of the text's wording they share, a
// typo or another form of a word counting for part: first by the share of
// the text's words a step has, then, between equals, by the share of the
// words any text of the step has (its core: choices and optional parts
// make a step long without making it less alike); ties keep catalogue
// order.
func (c *Catalogue) Closest(text string, n int) []Def {
	tw := words(text)
	type scored struct {
		d                 Def
		recall, precision float64
	}
	var all []scored
	for _, d := range c.Defs {
		shared := likeness(tw, words(d.Template))
		if shared > 0 {
			cw := words(d.core)
			all = append(all, scored{d, shared / float64(len(tw)), likeness(cw, tw) / float64(len(cw))})
		}
	}
	slices.SortStableFunc(all, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.recall, a.recall), cmp.Compare(b.precision, a.precision))
	})
	var best []Def
	for _, s := range all[:min(n, len(all))] {
		best = append(best, s.d)
	}
	return best
}

// likeness sums, over the words of a, how like a word of b each is.
func likeness(a, b []string) float64 {
	sum := 0.0
	for _, x := range a {
		best := 0.0
		for _, y := range b {
			best = max(best, wordLikeness(x, y))
		}
		sum += best
	}
	return sum
}

// quoted and placeholder are what words leaves out: names and values
// differ from step to step, wording does not.
var (
	quoted      = regexp.MustCompile(`"[^"]*"|<[^>]*>`)
	nonWord     = regexp.MustCompile(`[^a-z0-9'-]+`)
	fillerWords = []string{"the", "a", "an", "of", "to", "and", "with"}
)

// words are the distinct words of a step's text or template, in lower
// case, without quoted names, placeholders and filler words.
func words(s string) []string {
	var ws []string
	for _, w := range nonWord.Split(quoted.ReplaceAllString(strings.ToLower(s), " "), -1) {
		if w != "" && strings.ContainsAny(w, "abcdefghijklmnopqrstuvwxyz") && !slices.Contains(fillerWords, w) && !slices.Contains(ws, w) {
			ws = append(ws, w)
		}
	}
	return ws
}

// wordLikeness is 1 for the same word, less for a typo (one edit, two in
// a long word) or another form of it (create, creates, connected), else 0.
func wordLikeness(a, b string) float64 {
	short, long := min(len(a), len(b)), max(len(a), len(b))
	switch {
	case a == b:
		return 1
	case short >= 4 && (editDistance(a, b) == 1 || short >= 7 && editDistance(a, b) == 2):
		return 0.8
	case short >= 4 && long-short <= 3 && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)):
		return 0.6
	}
	return 0
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of neighbours that turn a into b (optimal string alignment).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
