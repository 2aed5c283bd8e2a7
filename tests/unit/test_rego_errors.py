"""rego-cpp's compiler errors read as a line and a column of the module they are about."""

from crane_policy.rego_errors import readable

SOURCE = "package crane.autoscale\n\nlimit := 3\nbroken := \n"


def test_an_error_names_its_module_line_and_column():
    offset = SOURCE.index(":= \n")
    error = f"(rego-errorseq (error 9:autoscale|{offset}|2 (errormsg 27:Invalid assignment operator) (errorast x)))"
    assert readable(error, {"autoscale": SOURCE}) == "autoscale line 4, column 8: Invalid assignment operator"


def test_a_message_with_brackets_is_read_by_its_length_and_unknown_shapes_stay_as_they_are():
    error = "(error 3:abc|0|1 (errormsg 14:bad (thing) x!))"
    assert readable(error, {"abc": "x"}) == "abc line 1, column 1: bad (thing) x!"
    assert readable("the policy did not finish within 1s", {}) == "the policy did not finish within 1s"
    assert readable("(error 3:zzz|0|1 (errormsg 2:no))", {"abc": ""}) == "(error 3:zzz|0|1 (errormsg 2:no))"
