package server_test

import (
	"errors"

	"github.com/headwater/headwater/server"
)

func asConfigError(err error, target **server.ConfigError) bool { return errors.As(err, target) }
