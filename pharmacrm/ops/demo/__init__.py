"""The demo data generator behind `pharmacrm demo`: a made-up company calling on real hospitals."""
