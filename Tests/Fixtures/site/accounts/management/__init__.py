# Management package of the accounts app.
