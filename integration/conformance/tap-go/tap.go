// Package tap is a minimal TAP version 13 writer for bvisor's conformance
// harness. It stands in for github.com/mndrix/tap-go, which Debian does not
// package, and offers only the calls the OCI runtime-tools validation suite
// makes: New, Header, Ok, Pass, Fail, Skip, Todo, Diagnostic, Diagnosticf,
// YAML, AutoPlan and Count.
//
// integration/conformance.sh copies this file to
// $GOPATH/src/github.com/mndrix/tap-go/ before building the suite.
package tap

import (
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// counter is shared between a T and the TODO views Todo hands out, so test
// numbers keep increasing whichever view reports a result.
type counter struct {
	n int
}

// T writes one TAP stream.
type T struct {
	// Writer receives the stream; New sets it to os.Stdout.
	Writer io.Writer
	todo   bool
	count  *counter
}

// New returns a writer on standard output with no tests reported yet.
func New() *T {
	return &T{Writer: os.Stdout, count: &counter{}}
}

func (t *T) printf(format string, args ...interface{}) {
	fmt.Fprintf(t.Writer, format, args...)
}

// Header starts the stream. A positive testCount is printed as the plan
// up front; with 0 the caller prints the plan later with AutoPlan.
func (t *T) Header(testCount int) {
	t.printf("TAP version 13\n")
	if testCount > 0 {
		t.printf("1..%d\n", testCount)
	}
}

// Ok reports one test result.
func (t *T) Ok(test bool, description string) {
	t.count.n++
	line := "ok"
	if !test {
		line = "not ok"
	}
	line = fmt.Sprintf("%s %d", line, t.count.n)
	if description != "" {
		line += " - " + description
	}
	if t.todo {
		line += " # TODO"
	}
	t.printf("%s\n", line)
}

// Pass reports a passing test.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail reports a failing test.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip reports count skipped tests, all for the same reason.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		t.count.n++
		t.printf("ok %d # SKIP %s\n", t.count.n, description)
	}
}

// Todo returns a view of t whose results are marked "# TODO"; it shares
// t's test numbering.
func (t *T) Todo() *T {
	view := *t
	view.todo = true
	return &view
}

// Count returns how many tests have been reported so far.
func (t *T) Count() int { return t.count.n }

// AutoPlan prints the plan for the tests reported so far; call it last.
func (t *T) AutoPlan() { t.printf("1..%d\n", t.count.n) }

// Diagnostic prints message as "# " comment lines.
func (t *T) Diagnostic(message string) {
	for _, line := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		t.printf("# %s\n", line)
	}
}

// Diagnosticf formats its arguments and prints them as Diagnostic does.
func (t *T) Diagnosticf(format string, args ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, args...))
}

// YAML prints value as a TAP 13 YAML block attached to the previous test.
func (t *T) YAML(value interface{}) error {
	out, err := yaml.Marshal(value)
	if err != nil {
		return err
	}
	t.printf("  ---\n")
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.printf("  %s\n", line)
	}
	t.printf("  ...\n")
	return nil
}
