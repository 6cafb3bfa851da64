from bench.cpu import parse


def test_the_profile_directory_is_made_before_anything_runs(tmp_path):
    directory = tmp_path / "profiles" / "today"

    args = parse(["--profile", str(directory)])

    assert args.profile == directory
    assert directory.is_dir()


def test_without_a_profile_no_directory_is_asked_for():
    assert parse([]).profile is None
