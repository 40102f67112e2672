// Package funclit has its only statement in a function literal.
package funclit

var F = func() int { return 1 }
