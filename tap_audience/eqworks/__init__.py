"""EQ Works EQ API: ATOM campaign insights and LOCUS household segments."""
