package localfs

import (
	"strings"
)

// componentBytes is how many bytes of a key one file-name component holds
// at most. Escaped, that is at most 3 × 80 + 1 = 241 bytes, below the
// 255-byte NAME_MAX of common file systems; a 1,024-byte key needs at
// most 13 components and about 3,100 bytes of path, below PATH_MAX.
const componentBytes = 80

// emptyLeaf is the file name of an object whose key ends in "/". It is
// the only name that holds a lone "%", which escaping never produces.
const emptyLeaf = "%"

// chunkMark ends a directory that holds the continuation of a long
// segment; escaping never produces a bare "+".
const chunkMark = "+"

// encodeKey returns the relative path (slash-separated) of the file that
// holds key. The mapping is injective and reversible (decodePath):
//
//   - every byte except a-z, 0-9, "-", "_" and "." is escaped as %XX, with
//     upper-case hex; upper-case letters are escaped too, so that keys
//     differing only in case stay distinct on case-insensitive file
//     systems, and so are all non-ASCII bytes, so that NFC and NFD forms
//     of a name stay distinct on normalising ones (macOS);
//   - a "." that would start a file name is escaped, so no object's name
//     starts with "." (temporary files and the presign key do);
//   - each "/" ends a directory whose name ends in its escape, "%2F": the
//     key "certs/tls.pem" is the file certs%2F/tls.pem, and "a//b" is
//     a%2F/%2F/b, distinct from a%2F/b;
//   - a segment longer than componentBytes continues in a directory whose
//     name ends in "+";
//   - a key ending in "/" is the file "%" inside its directory.
//
// Decoding a path is escaping undone on the concatenated names, minus the
// "+" marks: the names read like the key itself.
func encodeKey(key string) string {
	var b strings.Builder
	b.Grow(len(key) + len(key)/4 + 8)
	n := 0 // key bytes in the current component
	for i := 0; i < len(key); i++ {
		if n == componentBytes {
			b.WriteString(chunkMark + "/")
			n = 0
		}
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.' && n > 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
		n++
		if c == '/' {
			b.WriteByte('/')
			n = 0
		}
	}
	if n == 0 {
		b.WriteString(emptyLeaf)
	}
	return b.String()
}

const hexDigits = "0123456789ABCDEF"

// decodeName undoes the escaping of one file-name component. ok is false
// for a name encodeKey never writes (temporary files, foreign files).
func decodeName(name string, isDir bool) (frag string, ok bool) {
	switch {
	case name == "":
		return "", false
	case name == emptyLeaf:
		return "", !isDir
	case isDir && strings.HasSuffix(name, chunkMark):
		name = name[:len(name)-1]
	case isDir && !strings.HasSuffix(name, "%2F"):
		return "", false
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		hi, lo := unhex(name[i+1]), unhex(name[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// decodePath reverses encodeKey. ok is false for a path encodeKey never
// produces; a name that decodes but is not in canonical form (such as
// "A" for a key that encodeKey writes as "%41") is refused too, so that
// every object listed can be read back under its key.
func decodePath(path string) (string, bool) {
	names := strings.Split(path, "/")
	var b strings.Builder
	for i, name := range names {
		frag, ok := decodeName(name, i < len(names)-1)
		if !ok {
			return "", false
		}
		b.WriteString(frag)
	}
	key := b.String()
	if key == "" || encodeKey(key) != path {
		return "", false
	}
	return key, true
}
