package checkin

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Small-cell suppression for the figures (guidelines 3h: figures by
// gender and age group, never naming anyone).
//
// A cell standing for fewer than MinCell is hidden ("primary"
// suppression, in figures and Stats). That is not enough, because the
// tables of one period are linked by sums: a gender's age bands add up to
// that gender's row of --by gender, an age band's genders to its row of
// --by age, every breakdown to the total. Wherever one such sum has
// exactly one hidden cell among its parts and itself, the others give it
// back by subtraction, so one more of them is hidden too ("complementary"
// suppression).
//
// So that every table of a period agrees with every other, this is
// decided once for all of them: the cube holds a node for each
// combination of values of each subset of Dimensions (a dimension left out
// is summed over), and protect works on all its sums at once. Whatever
// --by a reader asks for, they read some of the same protected nodes.
// (Two different periods are not protected against each other.)

// nDims is len(Dimensions).
const nDims = 5

// node is one row of some breakdown: the counters of the people who share
// the values in coords (a dimension outside mask is summed over).
type node struct {
	mask   int
	coords [nDims]string
	counts map[string]int64
	cells  map[string]Cell // by column name, and by answer counter
}

// group is the node's values of the dimensions in by, for a Row.
func (n *node) group(by []string) map[string]string {
	g := map[string]string{}
	for _, d := range by {
		g[d] = n.coords[slices.Index(Dimensions, d)]
	}
	return g
}

// cube is every breakdown of one period's counters.
type cube struct {
	nodes []*node // by mask, then values; the total (mask 0) first
	index map[string]int
}

func nodeKey(mask int, coords [nDims]string) string {
	return strconv.Itoa(mask) + "|" + strings.Join(coords[:], "|")
}

// newCube sums the counters of each week and group (fine) into every
// breakdown. The total is there even without counters.
func newCube(fine map[[nDims]string]map[string]int64) *cube {
	var metrics []string
	metricIdx := map[string]int{}
	for _, counts := range fine {
		for m := range counts {
			if _, ok := metricIdx[m]; !ok {
				metricIdx[m] = len(metrics)
				metrics = append(metrics, m)
			}
		}
	}
	type sum struct {
		mask   int
		coords [nDims]string
		v      []int64
	}
	sums := map[string]*sum{}
	at := func(mask int, coords [nDims]string) *sum {
		k := nodeKey(mask, coords)
		s := sums[k]
		if s == nil {
			s = &sum{mask: mask, coords: coords, v: make([]int64, len(metrics))}
			sums[k] = s
		}
		return s
	}
	at(0, [nDims]string{})
	v := make([]int64, len(metrics))
	for coords, counts := range fine {
		clear(v)
		for m, n := range counts {
			v[metricIdx[m]] = n
		}
		for mask := range 1 << nDims {
			var c [nDims]string
			for d := range nDims {
				if mask&(1<<d) != 0 {
					c[d] = coords[d]
				}
			}
			s := at(mask, c)
			for i, n := range v {
				s.v[i] += n
			}
		}
	}
	c := &cube{index: map[string]int{}}
	for _, s := range sums {
		n := &node{mask: s.mask, coords: s.coords, counts: make(map[string]int64, len(metrics))}
		for i, m := range metrics {
			if s.v[i] != 0 {
				n.counts[m] = s.v[i]
			}
		}
		c.nodes = append(c.nodes, n)
	}
	slices.SortFunc(c.nodes, func(a, b *node) int {
		if a.mask != b.mask {
			return a.mask - b.mask
		}
		return slices.Compare(a.coords[:], b.coords[:])
	})
	for i, n := range c.nodes {
		c.index[nodeKey(n.mask, n.coords)] = i
	}
	return c
}

// at returns the nodes of the breakdown by (a subset of Dimensions).
func (c *cube) at(by []string) []*node {
	mask := 0
	for _, d := range by {
		mask |= 1 << slices.Index(Dimensions, d)
	}
	var out []*node
	for _, n := range c.nodes {
		if n.mask == mask {
			out = append(out, n)
		}
	}
	return out
}

// protect hides, in every node, the cells that would give a hidden cell
// away (see the top of this file); cells must hold the primary
// suppression. units are the columns decided together: a share group (its
// shares add up to 100% within a node, so they are tied by a sum too), or
// a single column.
//
// Nodes that must be equal (a sum over a single value: a week's only
// language, a gender's only age band) count as one cell, hidden or shown
// together. Beside a lone hidden cell, the cell hidden is the one that
// leaves fewest other sums with a lone hidden cell (mending those it can),
// then the smallest; the total is hidden only where nothing else will do.
func (c *cube) protect(units [][]string) {
	classOf, members, lines := c.sums()
	nClass := len(members)
	total := classOf[0]
	through := make([][]int, nClass)
	for li, line := range lines {
		for _, x := range line {
			through[x] = append(through[x], li)
		}
	}
	for _, unit := range units {
		k := len(unit)
		hidden := make([]bool, nClass*k)
		base := make([]int64, nClass*k)
		for x := range nClass {
			for j, col := range unit {
				cell := c.nodes[members[x][0]].cells[col]
				hidden[x*k+j], base[x*k+j] = cell.Suppressed, cell.base
			}
		}
		unitLines, unitThrough := lines, through
		if k > 1 {
			// Each sum, column by column, then each node's shares.
			unitLines, unitThrough = nil, make([][]int, nClass*k)
			for _, line := range lines {
				for j := range k {
					cells := make([]int, len(line))
					for i, x := range line {
						cells[i] = x*k + j
					}
					unitLines = append(unitLines, cells)
				}
			}
			for x := range nClass {
				cells := make([]int, k)
				for j := range k {
					cells[j] = x*k + j
				}
				unitLines = append(unitLines, cells)
			}
			for li, line := range unitLines {
				for _, x := range line {
					unitThrough[x] = append(unitThrough[x], li)
				}
			}
		}
		complement(unitLines, unitThrough, hidden, base, func(x int) bool { return x/k == total })
		for x := range nClass {
			for j, col := range unit {
				if !hidden[x*k+j] {
					continue
				}
				for _, i := range members[x] {
					cell := c.nodes[i].cells[col]
					cell.Suppressed = true
					c.nodes[i].cells[col] = cell
				}
			}
		}
	}
}

// sums finds the sums that tie the nodes together: each node with its
// children along one dimension (the nodes that add that dimension to its
// breakdown, with its values on the rest). A node with a single child
// equals it: the two are put in one class instead. It returns each node's
// class, each class's nodes, and the sums with two or more children, as
// lists of classes (the node first).
func (c *cube) sums() (classOf []int, members [][]int, lines [][]int) {
	root := make([]int, len(c.nodes))
	for i := range root {
		root[i] = i
	}
	find := func(i int) int {
		for root[i] != i {
			root[i] = root[root[i]]
			i = root[i]
		}
		return i
	}
	type family struct{ parent, dim int }
	children := map[family][]int{}
	var families []family
	for i, m := range c.nodes {
		for d := range nDims {
			if m.mask&(1<<d) == 0 {
				continue
			}
			coords := m.coords
			coords[d] = ""
			f := family{c.index[nodeKey(m.mask&^(1<<d), coords)], d}
			if children[f] == nil {
				families = append(families, f)
			}
			children[f] = append(children[f], i)
		}
	}
	slices.SortFunc(families, func(a, b family) int {
		if a.parent != b.parent {
			return a.parent - b.parent
		}
		return a.dim - b.dim
	})
	for _, f := range families {
		if ch := children[f]; len(ch) == 1 {
			a, b := find(f.parent), find(ch[0])
			root[max(a, b)] = min(a, b)
		}
	}
	ids := map[int]int{}
	classOf = make([]int, len(c.nodes))
	for i := range c.nodes {
		r := find(i)
		if _, ok := ids[r]; !ok {
			ids[r] = len(ids)
			members = append(members, nil)
		}
		classOf[i] = ids[r]
		members[classOf[i]] = append(members[classOf[i]], i)
	}
	seen := map[string]bool{}
	for _, f := range families {
		line := []int{classOf[f.parent]}
		for _, ch := range children[f] {
			if !slices.Contains(line, classOf[ch]) {
				line = append(line, classOf[ch])
			}
		}
		key := slices.Clone(line)
		slices.Sort(key)
		if k := fmt.Sprint(key); len(line) > 1 && !seen[k] {
			seen[k] = true
			lines = append(lines, line)
		}
	}
	return classOf, members, lines
}

// complement hides cells until no line (a sum and its parts) has exactly
// one hidden cell. through lists the lines each cell is on; keep tells
// the cell to hide last (the total).
func complement(lines, through [][]int, hidden []bool, base []int64, keep func(x int) bool) {
	count := make([]int, len(lines)) // hidden cells on each line
	for li, line := range lines {
		for _, x := range line {
			if hidden[x] {
				count[li]++
			}
		}
	}
	// cost of hiding x to mend line on: the lines it leaves with a lone
	// hidden cell, less those it mends.
	cost := func(x, on int) int {
		n := 0
		for _, li := range through[x] {
			switch {
			case li == on:
			case count[li] == 0:
				n++
			case count[li] == 1:
				n--
			}
		}
		return n
	}
	for changed := true; changed; {
		changed = false
		for li, line := range lines {
			if count[li] != 1 {
				continue
			}
			best, bestCost, bestKeep := -1, 0, false
			for _, x := range line {
				if hidden[x] {
					continue
				}
				xk, xc := keep(x), cost(x, li)
				if best < 0 || bestKeep && !xk || bestKeep == xk && (xc < bestCost || xc == bestCost && base[x] < base[best]) {
					best, bestCost, bestKeep = x, xc, xk
				}
			}
			if best < 0 {
				continue
			}
			hidden[best] = true
			for _, l := range through[best] {
				count[l]++
			}
			changed = true
		}
	}
}
