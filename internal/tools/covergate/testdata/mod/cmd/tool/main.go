package main

func main() { println("tool") }
