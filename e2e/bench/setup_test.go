//go:build linux

package bench

import (
	"testing"

	"github.com/weavego/weavego/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }
