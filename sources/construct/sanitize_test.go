package construct

import "testing"

func TestSafeGroupName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"web", "web"},
		{"web_1", "web_1"},
		{"a-b.c", "a_b_c"},
		{"2web", "_web"},
		{"22", "_2"},
		{"_x", "_x"},
		{"-x", "_x"},
		{" x y ", "_x_y_"},
		{"tag_Name_web-1", "tag_Name_web_1"},
		{"café", "café"},
		{"Zoë Ødegård", "Zoë_Ødegård"},
		{"日本語", "日本語"},
		{"٣web", "_web"},    // Arabic-Indic digit three: \d in Python
		{"web٣", "web٣"},    // ... and \w after the first character
		{"Ⅻ", "Ⅻ"},          // Roman numeral twelve (Nl): \w but not \d
		{"e\u0301", "e_"},   // combining acute accent (Mn) is not \w
		{"a\u00a0b", "a_b"}, // no-break space
		{"sg:abc/def", "sg_abc_def"},
		{"emoji😀", "emoji_"},
		{"['a', 'b']", "__a____b__"},
	}
	for _, tt := range tests {
		if got := SafeGroupName(tt.in); got != tt.want {
			t.Errorf("SafeGroupName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSafeGroupNameNoAllocWhenClean(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _ = SafeGroupName("tag_Name_web_1") })
	if allocs != 0 {
		t.Errorf("SafeGroupName of a clean name allocates %v times", allocs)
	}
}
