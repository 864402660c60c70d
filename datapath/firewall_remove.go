package datapath

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
)

// RemoveFirewall deletes every nftables object of this package: the jump
// from Docker's FORWARD chain, our chain in Docker's table, our own forward
// table and the input table with its sets and counters. For stopping or
// uninstalling the plugin; absent objects are not an error.
func (m *Manager) RemoveFirewall() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.removeForward(), m.removeInput())
}

// removeInput deletes our input table if it exists.
func (m *Manager) removeInput() error {
	tables, err := m.nft.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("list nftables inet tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == InputTable {
			m.nft.DelTable(t)
			if err := m.nft.Flush(); err != nil {
				return fmt.Errorf("remove nftables table inet %s: %w", InputTable, err)
			}
		}
	}
	return nil
}

// removeForward removes the forward rules of both families.
func (m *Manager) removeForward() error {
	var errs []error
	for _, fam := range fwFamilies {
		errs = append(errs, m.removeForwardOf(fam))
	}
	return errors.Join(errs...)
}

func (m *Manager) removeForwardOf(fam nftables.TableFamily) error {
	chains, err := m.nft.ListChainsOfTableFamily(fam)
	if err != nil {
		return fmt.Errorf("list nftables %s chains: %w", familyName(fam), err)
	}
	changed := false
	for _, c := range chains {
		switch {
		case c.Table.Name == dockerTable && c.Name == dockerForward:
			n, err := m.queueUnjump(c)
			if err != nil {
				return err
			}
			changed = changed || n
		case c.Table.Name == FirewallTable && c.Name == ownForwardName:
			m.nft.DelTable(c.Table)
			changed = true
		}
	}
	for _, c := range chains {
		if c.Table.Name == dockerTable && c.Name == FirewallChain {
			m.nft.FlushChain(c)
			m.nft.DelChain(c)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := m.nft.Flush(); err != nil {
		return fmt.Errorf("remove nftables %s chain %s: %w", familyName(fam), FirewallChain, err)
	}
	return nil
}

// queueUnjump queues the deletion of every jump from fwd to our chain.
func (m *Manager) queueUnjump(fwd *nftables.Chain) (bool, error) {
	rules, err := m.nft.GetRules(fwd.Table, fwd)
	if err != nil {
		return false, fmt.Errorf("list rules of chain %s: %w", fwd.Name, err)
	}
	changed := false
	for _, r := range rules {
		if d, ok := decodeRule(r.Exprs); ok && d.chain == FirewallChain {
			if err := m.nft.DelRule(r); err != nil {
				return false, fmt.Errorf("delete jump to %s: %w", FirewallChain, err)
			}
			changed = true
		}
	}
	return changed, nil
}
