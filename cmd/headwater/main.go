// Command headwater is the Headwater identity server and its admin CLI.
package main

import (
	"os"

	"github.com/headwater/headwater/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
