from django.db import migrations, models

import rigtools.models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Token",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uid", models.CharField(default=rigtools.models.new_uid, max_length=64, unique=True)),
                ("email", models.EmailField(max_length=254)),
            ],
        ),
    ]
