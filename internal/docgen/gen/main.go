// Command gen writes gotwistd's man page and bash completion from the
// --help texts of a gotwistd binary:
//
//	go run ./internal/docgen/gen --binary ./gotwistd --man gotwistd.1 --bash gotwistd
//
// scripts/deb runs it for the Debian package.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/docgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "docgen: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("docgen", flag.ContinueOnError)
	binary := fs.String("binary", "gotwistd", "the gotwistd binary whose --help texts to read")
	manOut := fs.String("man", "", "write the man page (roff) to this file")
	bashOut := fs.String("bash", "", "write the bash completion script to this file")
	date := fs.String("date", "", "the date in the man page's footer, YYYY-MM-DD; default: $SOURCE_DATE_EPOCH, else today")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *manOut == "" && *bashOut == "" {
		return fmt.Errorf("nothing to do: give --man FILE, --bash FILE or both")
	}
	page, err := docgen.Read(func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		cmd := exec.Command(*binary, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s %s: %w: %s", *binary, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
		return out.String(), nil
	})
	if err != nil {
		return err
	}
	page.Date = *date
	if page.Date == "" {
		page.Date = time.Now().UTC().Format("2006-01-02")
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			var sec int64
			if _, err := fmt.Sscan(s, &sec); err != nil {
				return fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
			}
			page.Date = time.Unix(sec, 0).UTC().Format("2006-01-02")
		}
	}
	if *manOut != "" {
		if err := os.WriteFile(*manOut, docgen.Man(page), 0o644); err != nil {
			return err
		}
	}
	if *bashOut != "" {
		if err := os.WriteFile(*bashOut, docgen.Bash(page), 0o644); err != nil {
			return err
		}
	}
	return nil
}
