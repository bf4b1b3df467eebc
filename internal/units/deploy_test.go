package units

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPackagedUnits checks that the units the Debian package installs
// (deploy/systemd/gotwistd.socket and gotwistd.service, scripts/deb) are
// what `gotwistd units --name gotwistd --path /var/www/html --listen
// tcp:80` writes today, so the package gets the hardening the generator
// has.
func TestPackagedUnits(t *testing.T) {
	files, err := Generate(Options{Name: "gotwistd", Path: "/var/www/html", Listen: []string{"tcp:80"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		path := filepath.Join("..", "..", "deploy", "systemd", f.Name)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != f.Content {
			t.Errorf("%s differs from what `gotwistd units --name gotwistd --path /var/www/html --listen tcp:80` writes; regenerate it with --out deploy/systemd --force:\n%s", path, f.Content)
		}
	}
}
