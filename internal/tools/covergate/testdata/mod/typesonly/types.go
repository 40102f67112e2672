// Package typesonly has declarations but no statement that coverage counts.
package typesonly

type T struct{ X int }

const C = 1

var V = T{X: C}

func (T) Empty() {}

type I interface{ M() }
