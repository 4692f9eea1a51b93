// Package construct applies Ansible's "constructed" options (compose,
// groups, keyed_groups, strict, leading_separator) to the hosts a provider
// collected, with the semantics of ansible-core's Constructable mixin
// (lib/ansible/plugins/inventory/__init__.py), so that users can paste the
// options of their Ansible inventory plugin file.
//
// # Order
//
// For one host, Apply evaluates every compose entry against the host vars
// (compose entries do not see each other, as in Ansible, where they are
// set on the inventory host and not in the variables being templated),
// then every groups conditional and then every keyed_groups entry, both
// against the host vars overlaid with the composed vars.
//
// # Expressions
//
// Expressions are Jinja2, parsed by gonja and evaluated by this package's
// interpreter with Ansible's rules:
//
//   - A missing variable, attribute or item is undefined. Undefined values
//     can be tested (is defined, is undefined), defaulted (default, d) and
//     navigated (an attribute of an undefined is undefined, as with
//     Ansible's AnsibleUndefined); any other use, or an undefined result,
//     is an error: with strict false the entry is skipped, with strict true
//     Apply fails. As in ansible-core 2.14, a keyed_groups key that is a
//     number or boolean, an empty group name and a group made its own
//     parent fail Apply whatever strict says.
//   - Inside an expression values keep their type (string, int, float,
//     bool, None, list, dict, and Datetime for the timestamps a plugin
//     hands over as Python datetimes). A compose entry's result and a
//     keyed_groups key are then typed as ansible-core 2.14's default
//     (non-native) templating types them (nonnative.go): text, except a
//     single variable's number, boolean or None, and text that reads as
//     a list, dict or boolean.
//   - Values are Python's: == and < compare as Python does, ~ and string
//     conversions print Python's str() (None, True, 1.0, ['a']), string
//     literals unescape as Python's unicode-escape (\d stays \d, \2 is
//     chr(2)), integers are 64-bit and overflow is an error.
//   - Dicts are Go maps, which have no order: iterating over a dict (keys,
//     items, dict2items, list, for, keyed_groups over a dict) goes in
//     sorted key order where Python keeps insertion order.
//   - Groups conditionals use Jinja truthiness, as ansible-core 2.14 does
//     ("{% if cond %}"); 2.19 rejects non-boolean results.
//
// Filters: default (d), lower, upper, capitalize, title, trim, replace,
// string, list, int, float, bool, abs, round, first, last, length (count),
// join, map, select, reject, selectattr, rejectattr, unique, sort, min,
// max, sum, reverse, items, attr, format, batch, safe, ternary, mandatory,
// regex_replace, regex_search, regex_findall, regex_escape, split,
// dict2items, items2dict, combine, flatten, zip, zip_longest, difference,
// intersect, union, symmetric_difference, json_query (JMESPath), to_json,
// to_nice_json, from_json, b64encode, b64decode, basename, dirname,
// extract, type_debug.
//
// Tests: defined, undefined, none, string, number, integer, float,
// boolean, true, false, mapping, sequence, iterable, callable, eq
// (equalto, ==), ne (!=), lt (lessthan, <), le (<=), gt (greaterthan, >),
// ge (>=), in, contains, sameas, odd, even, divisibleby, lower, upper,
// match, search, regex, truthy, falsy, subset, superset, any, all.
//
// Functions: range (at most 100,000 items, as in Jinja's sandbox, and no
// larger than the limit per value) and dict. Methods of str (lower, upper,
// startswith, endswith, split, rsplit, strip, replace, join, find, format,
// ...), dict (keys, values, items, get) and list (index, count). lookup
// and query fail: expressions cannot reach files, the network or the
// environment.
//
// # Sandbox
//
// Expressions are single expressions; keyed_groups' parent_group is a
// template allowing only {% if %} and {% for %} (no include, import,
// extends, macro, call or set).
//
// Every evaluation has a budget (budget.go), so that no expression can
// exhaust the server:
//
//   - Bytes per value (Limits.ValueBytes, 64 KiB by default). Every
//     producer of a string, list or dict (operators ~ + * %, literals,
//     slices, filters, methods, range, dict, a template's output) works out
//     the size of its result from its inputs and charges it before
//     allocating: replace counts the occurrences, ljust and center the
//     padding, join the parts, json_query 2^commas times its input (a
//     multi-select may repeat it per entry). Sizes are about the length of
//     the JSON encoding, so a list holding one large string many times is
//     as large as it reads, and no value can hide a larger one. Producers
//     whose result is no larger in memory than their input (sort, select,
//     split, dict2items, ...) measure the result before returning it. Values
//     read from the host vars are not built: passing them on is free.
//   - Bytes per evaluation: 16 times the limit per value, all values built
//     counted, intermediate ones included.
//   - Steps (100,000): loop iterations, filter and method calls, and the
//     work of reading inputs (by their size), comparing, matching (text
//     length times pattern length) and iterating strings.
//   - Time: 500 ms per evaluation, a backstop the other limits should make
//     unreachable.
//
// Apply also counts each host's constructed output, its composed vars
// (JSON size) and the names of its groups and parent groups, against
// Limits.HostBytes (1 MiB), and a Batch counts a whole sync's against
// Limits.SyncBytes (256 MiB). Going over any limit is a *LimitError, which
// fails Apply whatever strict says (an ordinary template error is skipped
// when strict is false): the sync fails, naming the option, and changes
// nothing. Parse evaluates the constant parts of each expression (those
// reading no variable, such as 'a' * 1000000) under the limits, and
// refuses an expression whose constant part goes over them.
//
// A Constructor is immutable once built and safe for concurrent use.
package construct
