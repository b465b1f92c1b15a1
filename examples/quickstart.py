"""A campaign in a few lines: search the toy formulation game, then look at what was found."""

import discover

if __name__ == "__main__":  # the process backend starts worker processes: keep this guard
    game = discover.load_game("toy-formulation", delay=0.01)
    campaign = discover.Campaign(game, budget=150, seed=0, workers=2, db="quickstart.db")
    campaign.subscribe(lambda e: e.kind == discover.EventKind.NEW_BEST and print("new best", e.data["best"]))
    result = campaign.run()
    print(f"best {result.best_value:.4f}: {result.best[0].label}  (known optimum 1.0)")
    with discover.open("quickstart.db") as store:
        print(store.count(), "evaluations stored")
