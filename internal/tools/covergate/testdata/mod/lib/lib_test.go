package lib

import "testing"

func TestAdd(t *testing.T) { Add(1, 2) }
