module github.com/gotwistd/gotwistd

go 1.26
