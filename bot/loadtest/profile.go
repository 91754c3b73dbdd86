package loadtest

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profiles writes pprof profiles of the measured window: a CPU profile
// (-cpuprofile) and heap profiles at its start and end (-memprofile FILE
// and FILE.base), the allocations in between being the window's.
type profiles struct {
	cpu, mem string
	cpuFile  *os.File
}

// start begins the window's profiles.
func (p *profiles) start() error {
	if p.mem != "" {
		if err := writeHeap(p.mem + ".base"); err != nil {
			return err
		}
	}
	if p.cpu == "" {
		return nil
	}
	f, err := os.Create(p.cpu)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	p.cpuFile = f
	return nil
}

// stop ends them; with write false (the run failed) it writes no heap
// profile.
func (p *profiles) stop(write bool) error {
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		err := p.cpuFile.Close()
		p.cpuFile = nil
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	if p.mem != "" && write {
		return writeHeap(p.mem)
	}
	return nil
}

// writeHeap writes the heap profile after a collection, which brings its
// allocation counts up to now.
func writeHeap(name string) error {
	runtime.GC()
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}
