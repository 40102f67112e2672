// Package notests has statements and no test file.
package notests

func F() int {
	x := 1
	return x
}
