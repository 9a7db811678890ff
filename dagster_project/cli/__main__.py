import sys

from dagster_project.cli.main import main

sys.exit(main())
