// Command dirsync synchronizes users and groups from Microsoft Entra ID and
// Active Directory into an application's own directory. See "dirsync help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dirsync/dirsync/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
