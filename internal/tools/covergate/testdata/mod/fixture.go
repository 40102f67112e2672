// Package fixture is the root package of covergate's test module.
package fixture

func Root() int { return 1 }
