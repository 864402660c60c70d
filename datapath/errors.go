package datapath

import "errors"

// joinErrs is errors.Join that ignores nils (errors.Join already does) and
// keeps a single error unwrapped for readable messages.
func joinErrs(errs []error) error {
	var nonNil []error
	for _, e := range errs {
		if e != nil {
			nonNil = append(nonNil, e)
		}
	}
	if len(nonNil) == 1 {
		return nonNil[0]
	}
	return errors.Join(nonNil...)
}
