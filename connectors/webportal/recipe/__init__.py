"""Recipes: everything that differs between web portals, in a YAML file beside the rules files.

A recipe says, per operation (sign in; open the form, fill the header, fill the lines, attach,
submit, read the confirmation; the invoice list and an invoice's detail page), which steps a person
takes: goto, click, fill, select, upload, wait for, read. Elements are found by label or by role and
name, as a person or a screen reader finds them. Per canonical field it says how the portal wants the
value (value maps, date and number formats). The connector's code is the same for every portal:
adding a portal of this kind is writing a recipe (docs/webportals.md).
"""

from connectors.webportal.recipe.loading import RecipeCache, RecipeError, parse_recipe, recipe_schema
from connectors.webportal.recipe.model import (
    Columns,
    FieldFormat,
    InvoiceDetail,
    InvoiceList,
    Lines,
    NumberFormat,
    Recipe,
    SignIn,
    SubmitInvoice,
)
from connectors.webportal.recipe.steps import Search, Step
from connectors.webportal.recipe.targets import ROLES, Target

__all__ = [
    "ROLES",
    "Columns",
    "FieldFormat",
    "InvoiceDetail",
    "InvoiceList",
    "Lines",
    "NumberFormat",
    "Recipe",
    "RecipeCache",
    "RecipeError",
    "Search",
    "SignIn",
    "Step",
    "SubmitInvoice",
    "Target",
    "parse_recipe",
    "recipe_schema",
]
