package overlay

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// Read calls fn with the name and bytes of every *.yaml file at the top of
// base, in name order, then of every one in override (nil for none): the
// shipped content first, then a programme's CONTENT_DIR. What a file of
// override does to a base file of the same name (replace it, or add to it)
// is fn's to decide. It stops at the first error.
func Read(base, override fs.FS, fn func(name string, data []byte) error) error {
	for _, fsys := range []fs.FS{base, override} {
		if fsys == nil {
			continue
		}
		names, err := fs.Glob(fsys, "*.yaml")
		if err != nil {
			return err
		}
		for _, name := range names {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if err := fn(name, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// Decode reads one YAML document of data into v and refuses keys v has no
// field for: a misspelt key in a content file is an error, not silence.
func Decode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// Each decodes every file Read reads into a fresh T (strictly, as Decode
// does) and calls fn with the file's name and the value; a file that does
// not decode stops it with an error naming the file.
func Each[T any](base, override fs.FS, fn func(name string, v *T) error) error {
	return Read(base, override, func(name string, data []byte) error {
		v := new(T)
		if err := Decode(data, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return fn(name, v)
	})
}

// Stem is a file's name without its folder and ".yaml": the language of a
// crisis list, the id of a flow or the country of a pack that names none.
func Stem(name string) string { return strings.TrimSuffix(path.Base(name), ".yaml") }
