#!/usr/bin/env python3
"""Write the `make run` demo's files (committed; rerun only to change them).

applicants.csv  feature values of 600 loan applicants (entity `applicant`):
                age, income, sex, region, as of 2024-01-01
outcomes.csv    the labelled instances: applicant, decision time, region (a
                column of the instances, not a feature) and whether the loan
                was repaid (1) or not (0)
credit.json     a training spec for `strata train` over those files

Seeded, standard library only, so the files are the same on every machine.
"""
import json
import math
import os
import random

here = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(2024)
with open(os.path.join(here, "applicants.csv"), "w") as a, \
        open(os.path.join(here, "outcomes.csv"), "w") as o:
    a.write("applicant_id,ts,age,income,sex\n")
    o.write("applicant_id,ts,region,repaid\n")
    for i in range(600):
        sex = rnd.choices(["F", "M"], [0.45, 0.55])[0]
        region = rnd.choices(["north", "south", "east"], [0.5, 0.35, 0.15])[0]
        age = rnd.randint(21, 70)
        # Income differs by sex in this synthetic population, so a model on
        # income alone still treats the groups differently: the report shows it.
        income = max(8.0, rnd.gauss(52 if sex == "M" else 44, 12))
        z = 0.09 * (income - 48) + 0.03 * (age - 45) + (0.4 if region == "north" else 0)
        repaid = 1 if rnd.random() < 1 / (1 + math.exp(-z)) else 0
        a.write("a%03d,2024-01-01T00:00:00Z,%d,%.1f,%s\n" % (i, age, income, sex))
        o.write("a%03d,2024-06-01T00:00:00Z,%s,%d\n" % (i, region, repaid))

spec = {
    "model": "credit", "task": "binary_classification",
    "algorithm": "logistic_regression",
    "instances": {"path": "outcomes.csv"}, "timestamp_column": "ts",
    "label_column": "repaid",
    "features": ["applicant:age", "applicant:income"],
    "split": {"method": "hash", "eval_fraction": 0.25},
    "hyperparameters": {"l2": 1.0},
    "fairness": {"group_by": ["applicant:sex"]},
}
with open(os.path.join(here, "credit.json"), "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
