package flows

import (
	"embed"
	"io/fs"
)

//go:embed defs/*.yaml packs/*.yaml
var content embed.FS

// Defs returns the shipped flow definition files.
func Defs() fs.FS { return sub("defs") }

// Packs returns the shipped country resource packs.
func Packs() fs.FS { return sub("packs") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(content, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return f
}
