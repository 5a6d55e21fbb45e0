// Command interloan runs the whole suite in one process and hosts the demo and operator
// commands; see internal/cli.
package main

import (
	"os"

	"github.com/interloan/interloan/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
