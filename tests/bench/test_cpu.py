from bench.cpu import parse


def test_the_profile_directory_is_made_before_anything_runs(tmp_path):
    directory = tmp_path / "profiles" / "today"

    args = parse(["--profile", str(directory)])

    assert args.profile == directory
    assert directory.is_dir()
