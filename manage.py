#!/usr/bin/env python
"""Django's command-line utility; `pharmacrm` is the same with a shorter name."""

from pharmacrm.__main__ import main

if __name__ == "__main__":
    main()
