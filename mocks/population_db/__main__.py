"""``python -m mocks.population_db serve --state-dir DIR ...``"""

from mocks.population_db.server import main

main()
