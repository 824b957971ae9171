"""``python -m popcert_npdb serve --state-dir DIR ...``"""

from popcert_npdb.server import main

main()
