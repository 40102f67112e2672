// Package lib has statements and a test file.
package lib

func Add(a, b int) int {
	if a < 0 {
		return 0
	}
	return a + b
}
