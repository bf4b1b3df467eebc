package static_test

import (
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/gotwistd/gotwistd/web/static"
)

// The equivalent of "twistd web --path /srv/www --add-header 'Cache-Control: max-age=60'".
func ExampleNew() {
	h, err := static.New(static.Config{
		Root:         "/srv/www",
		Headers:      [][2]string{{"Cache-Control", "max-age=60"}},
		ServerHeader: "gotwistd/0.1.0",
		ErrorLog:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err) // e.g. root directory "/srv/www" does not exist: ...
	}
	log.Fatal(http.ListenAndServe(":8080", h))
}
