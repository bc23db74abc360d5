package server

// The kinds of directory this server delivers to register themselves.
import (
	_ "github.com/headwater/headwater/connectors/ad"
	_ "github.com/headwater/headwater/connectors/local"
	_ "github.com/headwater/headwater/connectors/m365"
)
